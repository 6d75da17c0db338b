package mtls

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ALPN is the protocol name a meshlite client offers; a server proxy
// terminates TLS only for ClientHellos that offer it.
const ALPN = "meshlite/1"

// Proto says what follows the transport header.
type Proto uint8

// The protocols a transport header can announce.
const (
	ProtoOpaque Proto = 1
	ProtoHTTP1  Proto = 2
	ProtoHTTP2  Proto = 3
)

func (p Proto) String() string {
	switch p {
	case ProtoOpaque:
		return "opaque"
	case ProtoHTTP1:
		return "http1"
	case ProtoHTTP2:
		return "h2"
	}
	return fmt.Sprintf("proto(%d)", uint8(p))
}

// Header is the transport header.
type Header struct {
	Proto Proto
	Port  uint16
}

const (
	headerLen = 9
	maxExt    = 1024
	version   = 1
)

// ErrBadHeader is returned for a transport header that is not meshlite's.
var ErrBadHeader = errors.New("mtls: bad transport header")

// Marshal returns h on the wire.
func (h Header) Marshal() []byte {
	b := make([]byte, headerLen)
	copy(b, "MLT")
	b[3] = version
	b[4] = byte(h.Proto)
	binary.BigEndian.PutUint16(b[5:], h.Port)
	return b
}

// ReadHeader reads a transport header from r, skipping extensions.
func ReadHeader(r io.Reader) (Header, error) {
	var b [headerLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Header{}, fmt.Errorf("mtls: reading transport header: %w", err)
	}
	return parseHeader(b[:], r)
}

func parseHeader(b []byte, r io.Reader) (Header, error) {
	if string(b[:3]) != "MLT" {
		return Header{}, fmt.Errorf("%w: magic %q", ErrBadHeader, b[:3])
	}
	if b[3] != version {
		return Header{}, fmt.Errorf("%w: version %d", ErrBadHeader, b[3])
	}
	h := Header{Proto: Proto(b[4]), Port: binary.BigEndian.Uint16(b[5:])}
	if h.Proto < ProtoOpaque || h.Proto > ProtoHTTP2 {
		return Header{}, fmt.Errorf("%w: protocol %d", ErrBadHeader, b[4])
	}
	if h.Port == 0 {
		return Header{}, fmt.Errorf("%w: port 0", ErrBadHeader)
	}
	ext := binary.BigEndian.Uint16(b[7:])
	if ext > maxExt {
		return Header{}, fmt.Errorf("%w: %d bytes of extensions", ErrBadHeader, ext)
	}
	if ext > 0 {
		if _, err := io.CopyN(io.Discard, r, int64(ext)); err != nil {
			return Header{}, fmt.Errorf("mtls: reading transport header extensions: %w", err)
		}
	}
	return h, nil
}
