// Package demo runs meshlite on one machine: network-namespace pods, each
// with its traffic redirected through a real meshlite-proxy, and a client
// calling a small web app through both proxies. `make demo` runs it through
// `meshctl demo`.
package demo
