package http1_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/meshlite/meshlite/proxy/http1"
)

func ExampleServer() {
	srv := &http1.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "hello %s via %s", r.URL.Path, r.Proto)
		}),
		OnReject: func(status int, reason string) { fmt.Println("refused:", status, reason) },
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the proxy's accept loop, after protocol detection
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = srv.ServeConn(context.Background(), c)
			}()
		}
	}()

	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Get("http://" + ln.Addr().String() + "/world")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body))

	// A smuggling attempt is refused by the server itself.
	c, _ := net.Dial("tcp", ln.Addr().String())
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
	refusal, _ := io.ReadAll(c)
	c.Close()
	fmt.Printf("%q\n", refusal)

	ln.Close()
	srv.Shutdown() // closes the client's idle keep-alive connection
	wg.Wait()
	// Output:
	// 200 OK hello /world via HTTP/1.1
	// refused: 400 both Content-Length and Transfer-Encoding
	// "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 42\r\n\r\nboth Content-Length and Transfer-Encoding\n"
}
