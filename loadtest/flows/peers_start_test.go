package flows_test

import "testing"

// TestPeersStart makes sure every protocol server the flows are tested against installs, starts
// on its own loopback ports and stops again — so that a broken install is named as such.
func TestPeersStart(t *testing.T) {
	cert := newTestCert(t)
	t.Run("node", func(t *testing.T) {
		t.Parallel()
		for _, script := range []string{"socketio-chat", "graphql-server", "market-data"} {
			for _, tls := range []bool{false, true} {
				args := []string{"--compress"}
				if tls {
					args = append(args, "--tls", cert.certFile, cert.keyFile)
				}
				s := startNode(t, script, args...)
				if n := statInt(t, s.stats(t), "connections"); n != 0 {
					t.Errorf("%s: %d connections before any client", script, n)
				}
			}
		}
	})
	t.Run("mosquitto", func(t *testing.T) {
		t.Parallel()
		startMosquitto(t, cert)
	})
	t.Run("rabbitmq", func(t *testing.T) {
		t.Parallel()
		startRabbitMQ(t, cert)
	})
}
