package llmsvc

// LiveHandles reports the cgo handles of submissions not yet completed, for the leak test.
func LiveHandles() int64 { return liveHandles.Load() }

// LiveClients reports the clients not yet closed, for the finalizer test.
func LiveClients() int64 { return liveClients.Load() }
