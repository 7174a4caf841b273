package main

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"
)

// Through the proxy a round trip takes at least twice its delay, and bytes arrive whole
// and in order, pipelined requests included.
func TestProxyDelaysEachDirectionAndKeepsTheBytes(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						c.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	const delay = 20 * time.Millisecond
	go func() { served <- serveProxy(ctx, ln, echo.Addr().String(), delay) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	start := time.Now()
	if _, err := c.Write([]byte("one\ntwo\nthree\n")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one\n", "two\n", "three\n"} {
		got, err := r.ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	if took := time.Since(start); took < 2*delay {
		t.Fatalf("round trip took %v, less than twice the delay", took)
	}
	c.Close()
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("proxy: %v", err)
	}
}
