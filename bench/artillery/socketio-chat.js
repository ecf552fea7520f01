// Processor for socketio-chat.yml: gives each virtual user its room (one of ROOMS, at random,
// as the flow does) and payload, stamps each say with the send time, and counts the room's
// "said" broadcasts with their latency from the sender's stamp (Artillery's socketio engine
// would otherwise receive them unmeasured).
'use strict';

const ROOMS = parseInt(process.env.ROOMS || '10', 10);
const SIZE = parseInt(process.env.SIZE || '64', 10);
let text = '';
for (let i = 0; i < SIZE; i++) text += String.fromCharCode(97 + (i % 26));

function setup(context, events, next) {
  context.vars.room = `room-${1 + Math.floor(Math.random() * ROOMS)}`;
  context.vars.text = text;
  const socket = context.sockets && context.sockets[''];
  if (!socket) return next(new Error('no Socket.IO connection in context'));
  socket.on('said', (msg) => {
    events.emit('counter', 'said', 1);
    events.emit('histogram', 'fanout', Date.now() - Number(msg.ts));
  });
  return next();
}

function stamp(context, events, next) {
  context.vars.ts = Date.now();
  return next();
}

module.exports = { setup, stamp };
