package apps

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// Banner is the first line the cache sends, before the client says
// anything — the way MySQL, SMTP or Redis replicas behave.
const Banner = "+OK meshlite-cache ready"

// ServeCache serves a tiny line protocol on ln until ctx ends: it greets
// each client with Banner, then answers "GET key" with "VALUE key <n>".
func ServeCache(ctx context.Context, ln net.Listener) error {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("cache: %w", err)
		}
		go serveCacheConn(c)
	}
}

func serveCacheConn(c net.Conn) {
	defer c.Close()
	fmt.Fprintf(c, "%s\r\n", Banner)
	sc := bufio.NewScanner(c)
	for n := 1; sc.Scan(); n++ {
		c.SetDeadline(time.Now().Add(time.Minute)) //nolint:errcheck // best effort
		cmd, key, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch strings.ToUpper(cmd) {
		case "GET":
			fmt.Fprintf(c, "VALUE %s %d\r\n", key, n)
		case "QUIT":
			fmt.Fprint(c, "+BYE\r\n")
			return
		default:
			fmt.Fprintf(c, "-ERR unknown command %q\r\n", cmd)
		}
	}
}

// CacheGet connects to the cache at addr, checks the banner and gets key.
func CacheGet(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr, key string) (string, error) {
	c, err := dial(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // best effort
	r := bufio.NewReader(c)
	banner, err := r.ReadString('\n')
	if err != nil || strings.TrimSpace(banner) != Banner {
		return "", fmt.Errorf("cache: banner %q: %v", banner, err)
	}
	fmt.Fprintf(c, "GET %s\r\nQUIT\r\n", key)
	value, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return strings.TrimSpace(value), nil
}
