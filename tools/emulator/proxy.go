package main

// A TCP proxy that delays every byte by a fixed time in each direction: the network
// between a client and a server (Redis, in the shared-limits benchmark) made slower the
// way a cross-zone link is. Bytes are forwarded in the chunks they were read in, each
// released its delay after it arrived, so pipelined traffic stays pipelined and the
// throughput of a connection is not limited by the delay.

import (
	"context"

	"net"
	"sync"
	"time"
)

type delayedChunk struct {
	at   time.Time
	data []byte
}

// serveProxy accepts on ln until ctx ends, forwarding each connection to target.
func serveProxy(ctx context.Context, ln net.Listener, target string, delay time.Duration) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	track := func(c net.Conn, add bool) {
		mu.Lock()
		defer mu.Unlock()
		if add {
			conns[c] = struct{}{}
		} else {
			delete(conns, c)
		}
	}
	go func() {
		<-ctx.Done()
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		client, err := ln.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		server, err := net.Dial("tcp", target)
		if err != nil {
			client.Close()
			continue
		}
		track(client, true)
		track(server, true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pair sync.WaitGroup
			pair.Add(2)
			go func() { defer pair.Done(); pipeDelayed(client, server, delay) }()
			go func() { defer pair.Done(); pipeDelayed(server, client, delay) }()
			pair.Wait()
			track(client, false)
			track(server, false)
		}()
	}
}

// pipeDelayed copies from src to dst, each chunk delay after it was read; when either
// side ends, both connections close.
func pipeDelayed(src, dst net.Conn, delay time.Duration) {
	chunks := make(chan delayedChunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range chunks {
			if wait := time.Until(c.at); wait > 0 {
				time.Sleep(wait)
			}
			if _, err := dst.Write(c.data); err != nil {
				for range chunks {
				}
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunks <- delayedChunk{time.Now().Add(delay), append([]byte(nil), buf[:n]...)}
		}
		if err != nil {
			break
		}
	}
	close(chunks)
	<-done
	src.Close()
	dst.Close()
}
