package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/http2"
)

// Cleartext HTTP/2 with prior knowledge is served by net/http itself
// (Server.Protocols). net/http does not implement the HTTP/1.1
// "Upgrade: h2c" handshake, which libcurl uses for --http2 on http:// URLs,
// so it is handled here: the upgrading request's body is buffered, the
// connection is switched to HTTP/2 and the request is answered as stream 1.

const maxUpgradeBody = 32 << 20

func withH2CUpgrade(srv *http.Server, next http.Handler) http.Handler {
	h2 := &http2.Server{IdleTimeout: srv.IdleTimeout}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 1 || !isH2CUpgrade(r.Header) {
			next.ServeHTTP(w, r)
			return
		}
		settings, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(r.Header.Get("HTTP2-Settings"), "="))
		if err != nil || len(r.Header.Values("HTTP2-Settings")) != 1 {
			// A malformed upgrade is simply not honoured: answer over HTTP/1.1.
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpgradeBody))
		if err != nil {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
		if err := rw.Flush(); err != nil {
			return
		}
		var c net.Conn = conn
		if rw.Reader.Buffered() > 0 {
			c = &bufferedConn{Conn: conn, r: rw.Reader}
		}
		// The HTTP/1.1 request context no longer notices a client going away
		// once the connection is hijacked; tie it to the HTTP/2 connection.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		r = r.WithContext(ctx)
		r.Header.Del("Upgrade")
		r.Header.Del("Connection")
		r.Header.Del("HTTP2-Settings")
		h2.ServeConn(c, &http2.ServeConnOpts{
			Context:        ctx,
			BaseConfig:     srv,
			Handler:        next,
			UpgradeRequest: r,
			Settings:       settings,
		})
	})
}

func isH2CUpgrade(h http.Header) bool {
	return headerHasToken(h.Values("Upgrade"), "h2c") && headerHasToken(h.Values("Connection"), "HTTP2-Settings")
}

func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// bufferedConn drains bytes the HTTP/1.1 reader already buffered before
// reading from the socket again.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) {
	if c.r != nil {
		if n := c.r.Buffered(); n > 0 {
			if len(p) > n {
				p = p[:n]
			}
			return c.r.Read(p)
		}
		c.r = nil
	}
	return c.Conn.Read(p)
}
