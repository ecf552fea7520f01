package testserver

// The stall windows are [k*every, k*every+for) for k >= 1, in time since the
// server started: one schedule for every /stall connection with the same
// parameters, so that a test sees the whole echo path freeze at once.

// stalled reports whether replies are held at now (ns since the server started).
func stalled(r route, now int64) bool {
	every := int64(r.stallEvery)
	return now >= every && now%every < int64(r.stallFor)
}

// stallEnd is the end of the window that contains now.
func stallEnd(r route, now int64) int64 {
	every := int64(r.stallEvery)
	return now - now%every + int64(r.stallFor)
}
