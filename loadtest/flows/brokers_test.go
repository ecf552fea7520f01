package flows_test

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/loadtest"
)

// orderSent is how many messages testdata/{stomp,mqtt}-order.yaml send before they read them
// back: the first read loop's {{seq}} is orderSent+1 when message n=1 is due.
const orderSent = 50

// in-order matches a message carrying "n=K;" when K is the one due next: the read loop's
// {{seq}} − orderSent. With others: fail, a message out of order fails its flow.
func init() {
	loadtest.RegisterMatcher("in-order", func(s *loadtest.Session, _ engine.MessageType, data []byte) bool {
		i := bytes.Index(data, []byte("n="))
		if i < 0 {
			return false
		}
		j := bytes.IndexByte(data[i:], ';')
		if j < 0 {
			return false
		}
		n, err := strconv.ParseUint(string(data[i+2:i+j]), 10, 64)
		return err == nil && n == s.Seq()-orderSent
	})
}

// uniqueTag names one test's topics and client ids apart from those of the tests running
// beside it on the same broker.
func uniqueTag() string {
	return "t" + strconv.FormatUint(tagSeq.Add(1), 10) + strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
}

var tagSeq atomic.Uint64

// TestBrokers runs the STOMP and MQTT flows against real brokers started for this test:
// RabbitMQ's Web STOMP and Web MQTT, and Mosquitto's WebSocket listener, each over ws:// and
// wss:// (RabbitMQ offers permessage-deflate too).
func TestBrokers(t *testing.T) {
	cert := newTestCert(t)
	t.Run("rabbitmq", func(t *testing.T) {
		t.Parallel()
		rmq := startRabbitMQ(t, cert)
		for _, v := range []serverVariant{
			{name: "ws", url: rmq.stomp},
			{name: "wss", url: rmq.stompTLS},
			{name: "deflate", url: rmq.stomp, compress: true},
		} {
			t.Run("stomp-"+v.name, func(t *testing.T) {
				t.Parallel()
				testSTOMP(t, v.url, v.compress)
			})
		}
		for _, v := range []serverVariant{
			{name: "ws", url: rmq.mqtt},
			{name: "wss", url: rmq.mqttTLS},
			{name: "deflate", url: rmq.mqtt, compress: true},
		} {
			t.Run("mqtt-"+v.name, func(t *testing.T) {
				t.Parallel()
				testMQTT(t, v.url, v.compress)
			})
		}
	})
	t.Run("mosquitto", func(t *testing.T) {
		t.Parallel()
		mq := startMosquitto(t, cert)
		for _, v := range []serverVariant{{name: "ws", url: mq.ws}, {name: "wss", url: mq.wss}} {
			t.Run("mqtt-"+v.name, func(t *testing.T) {
				t.Parallel()
				testMQTT(t, v.url, false)
			})
		}
	})
}

// testSTOMP: CONNECT/CONNECTED with heart-beats, SUBSCRIBE with a receipt, SENDs with
// receipts matched by receipt id, every MESSAGE of the shared destination counted and timed
// from its ts header, no ERROR frame; and one subscription's MESSAGEs in order.
func testSTOMP(t *testing.T, url string, compress bool) {
	const conns = 5
	tag := uniqueTag()
	res := flowRun{
		name: "stomp-chat", url: url, conns: conns, duration: 8 * time.Second, compress: compress,
		set: map[string]string{"every": "200ms", "hold": "2s", "heartbeat": "500", "destination": "/topic/wsbench." + tag},
	}.run(t)
	if n := count(res, "connect"); n != conns {
		t.Errorf("%d CONNECTED, want %d", n, conns)
	}
	if n := count(res, "subscribe"); n != conns {
		t.Errorf("%d subscription receipts, want %d", n, conns)
	}
	sends := count(res, "send")
	if sends < conns || count(res, "timeouts(send)") != 0 {
		t.Errorf("%d SENDs with their receipt, %d without", sends, count(res, "timeouts(send)"))
	}
	if n := count(res, "errors_received"); n != 0 {
		t.Errorf("%d ERROR frames", n)
	}
	if n := count(res, "heartbeats"); n == 0 {
		t.Errorf("no server heart-beat in 2 s at one per 500 ms on %d connections", conns)
	}
	// Every connection subscribes to the destination every connection sends to; each gets
	// every MESSAGE but those sent after it disconnected. (The last SEND of each connection
	// may go out uncounted: the flow disconnects before its receipt arrives.)
	if msgs := count(res, "messages"); msgs > (sends+conns)*conns || msgs < sends*conns/2 {
		t.Errorf("%d MESSAGEs for %d SENDs to %d subscribers", msgs, sends, conns)
	}
	send, msg := latency(t, res, "send"), latency(t, res, "message")
	t.Logf("%d SENDs, %d MESSAGEs, %d heart-beats; send p50 %.2f ms, message p50 %.2f ms",
		sends, count(res, "messages"), count(res, "heartbeats"), send.P50Ms, msg.P50Ms)
	between(t, "message p50 (ms)", msg.P50Ms, 0, slowBound)
	between(t, "send p50 (ms)", send.P50Ms, 0, slowBound)

	res = flowRun{name: "testdata/stomp-order.yaml", url: url, conns: conns, duration: 20 * time.Second, compress: compress,
		set: map[string]string{"prefix": "order." + tag}}.run(t)
	if n := count(res, "message"); n != conns*orderSent {
		t.Errorf("%d MESSAGEs in order, want %d", n, conns*orderSent)
	}
}

// testMQTT: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH at QoS 1 each matched to its PUBACK
// by packet id and at QoS 0, every delivery counted and timed from its stamp, PINGREQ/PINGRESP
// keep-alives; and one subscription's PUBLISHes in order.
func testMQTT(t *testing.T, url string, compress bool) {
	const conns = 5
	// Parallel tests share a broker: their client ids and topics must differ (a second
	// connection with a client id in use ends the first).
	tag := uniqueTag()
	set := map[string]string{"every": "100ms", "hold": "2s", "topic": "wsbench/" + tag, "client": tag + "-"}
	res := flowRun{name: "mqtt-qos1", url: url, conns: conns, duration: 8 * time.Second, compress: compress, set: set}.run(t)
	pubs := count(res, "publish")
	if pubs < conns || count(res, "timeouts(publish)") != 0 {
		t.Errorf("QoS 1: %d PUBACKs matched, %d missing", pubs, count(res, "timeouts(publish)"))
	}
	// Each publisher gets its own messages back; only those in flight at DISCONNECT are missed.
	if d := count(res, "deliveries"); d > pubs+conns || d < pubs/2 {
		t.Errorf("QoS 1: %d deliveries for %d acknowledged publishes", d, pubs)
	}
	if n := count(res, "ping"); n != conns {
		t.Errorf("%d PINGRESPs, want %d", n, conns)
	}
	pub, del := latency(t, res, "publish"), latency(t, res, "delivery")
	t.Logf("QoS 1: %d PUBACKs, %d deliveries; publish p50 %.2f ms, delivery p50 %.2f ms", pubs, count(res, "deliveries"), pub.P50Ms, del.P50Ms)
	between(t, "publish p50 (ms)", pub.P50Ms, 0, slowBound)
	between(t, "delivery p50 (ms)", del.P50Ms, 0, slowBound)

	res = flowRun{name: "mqtt-qos0", url: url, conns: conns, duration: 8 * time.Second, compress: compress, set: set}.run(t)
	if d := count(res, "deliveries"); d < conns {
		t.Errorf("QoS 0: %d deliveries in 2 s of a publish per 100 ms on %d connections", d, conns)
	}
	between(t, "QoS 0 delivery p50 (ms)", latency(t, res, "delivery").P50Ms, 0, slowBound)

	res = flowRun{name: "mqtt-keepalive", url: url, conns: conns, duration: 4 * time.Second, compress: compress,
		set: map[string]string{"ping_every": "200ms", "keepalive": "1", "topic": "wsbench/" + tag, "client": tag + "-"}}.run(t)
	if n := count(res, "ping"); n < conns || count(res, "timeouts(ping)") != 0 {
		t.Errorf("keep-alive: %d PINGRESPs, %d missing", n, count(res, "timeouts(ping)"))
	}
	between(t, "ping p50 (ms)", latency(t, res, "ping").P50Ms, 0, slowBound)

	res = flowRun{name: "testdata/mqtt-order.yaml", url: url, conns: conns, duration: 20 * time.Second, compress: compress,
		set: map[string]string{"prefix": "order-" + tag}}.run(t)
	if n := count(res, "message"); n != conns*orderSent {
		t.Errorf("%d PUBLISHes in order, want %d", n, conns*orderSent)
	}
}
