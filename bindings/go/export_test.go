package llmsvc

// LiveHandles reports the cgo handles of submissions not yet completed, for the leak test.
func LiveHandles() int64 { return liveHandles.Load() }

// LiveClients reports the clients not yet closed, for the finalizer test.
func LiveClients() int64 { return liveClients.Load() }

// LiveEventHooks reports the cgo handles of event hooks not yet deleted.
func LiveEventHooks() int64 { return liveEventHooks.Load() }
