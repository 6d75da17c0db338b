package mtls

import (
	"encoding/binary"
	"errors"
	"slices"
)

// errShort means more bytes are needed to parse the ClientHello.
var errShort = errors.New("mtls: truncated ClientHello")

// errNotHello means the bytes are not a TLS ClientHello.
var errNotHello = errors.New("mtls: not a TLS ClientHello")

// MaxHelloBytes bounds how much of a ClientHello is read to find its ALPN:
// one TLS record, the largest a record may be.
const MaxHelloBytes = 5 + 1<<14

// HelloLen returns how many bytes the first TLS record of b spans (header
// included), once b holds at least its 5-byte header.
func HelloLen(b []byte) (int, bool) {
	if len(b) < 5 || b[0] != 0x16 {
		return 0, false
	}
	return 5 + int(binary.BigEndian.Uint16(b[3:5])), true
}

// OffersMeshlite reports whether the ClientHello at the start of b offers
// meshlite's ALPN. It needs the whole first record (HelloLen); a ClientHello
// split over several records is not meshlite's (ours fit in one).
func OffersMeshlite(b []byte) bool {
	alpn, err := parseALPN(b)
	return err == nil && slices.Contains(alpn, ALPN)
}

// parseALPN returns the ALPN protocols offered by the ClientHello that
// starts b (a TLS record).
func parseALPN(b []byte) ([]string, error) {
	n, ok := HelloLen(b)
	if !ok {
		return nil, errNotHello
	}
	if len(b) < n {
		return nil, errShort
	}
	r := reader(b[5:n])
	typ, ok1 := r.u8()
	hlen, ok2 := r.u24()
	if !ok1 || !ok2 || typ != 1 {
		return nil, errNotHello
	}
	body, ok := r.take(hlen)
	if !ok {
		return nil, errShort
	}
	h := reader(body)
	// version(2) random(32)
	if _, ok := h.take(34); !ok {
		return nil, errNotHello
	}
	for _, lenBytes := range []int{1, 2, 1} { // session id, cipher suites, compression
		if _, ok := h.vec(lenBytes); !ok {
			return nil, errNotHello
		}
	}
	if len(h) == 0 {
		return nil, nil // no extensions
	}
	exts, ok := h.vec(2)
	if !ok {
		return nil, errNotHello
	}
	e := reader(exts)
	for len(e) > 0 {
		typ, ok1 := e.u16()
		data, ok2 := e.vec(2)
		if !ok1 || !ok2 {
			return nil, errNotHello
		}
		if typ != 16 { // application_layer_protocol_negotiation
			continue
		}
		d := reader(data)
		list, ok := d.vec(2)
		if !ok || len(d) != 0 {
			return nil, errNotHello
		}
		l := reader(list)
		var protos []string
		for len(l) > 0 {
			p, ok := l.vec(1)
			if !ok || len(p) == 0 {
				return nil, errNotHello
			}
			protos = append(protos, string(p))
		}
		return protos, nil
	}
	return nil, nil
}

// reader consumes a byte slice front to back.
type reader []byte

func (r *reader) take(n int) ([]byte, bool) {
	if n < 0 || len(*r) < n {
		return nil, false
	}
	b := (*r)[:n]
	*r = (*r)[n:]
	return b, true
}

func (r *reader) u8() (int, bool) {
	b, ok := r.take(1)
	if !ok {
		return 0, false
	}
	return int(b[0]), true
}

func (r *reader) u16() (int, bool) {
	b, ok := r.take(2)
	if !ok {
		return 0, false
	}
	return int(binary.BigEndian.Uint16(b)), true
}

func (r *reader) u24() (int, bool) {
	b, ok := r.take(3)
	if !ok {
		return 0, false
	}
	return int(b[0])<<16 | int(b[1])<<8 | int(b[2]), true
}

// vec reads a vector with a length prefix of lenBytes bytes.
func (r *reader) vec(lenBytes int) ([]byte, bool) {
	var n int
	var ok bool
	switch lenBytes {
	case 1:
		n, ok = r.u8()
	case 2:
		n, ok = r.u16()
	}
	if !ok {
		return nil, false
	}
	return r.take(n)
}
