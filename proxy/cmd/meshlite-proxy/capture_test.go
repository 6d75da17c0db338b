package main

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/meshlite/meshlite/internal/netenv"
)

// segment is one captured TCP segment with its payload.
type segment struct {
	src, dst netip.AddrPort
	payload  []byte
}

// capture records the TCP segments on a pod's eth0 with an AF_PACKET
// socket, until stop is called.
type capture struct {
	fd   int
	mu   sync.Mutex
	segs []segment
	done chan struct{}
	quit chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func startCapture(t *testing.T, pod *netenv.Pod) *capture {
	t.Helper()
	c := &capture{done: make(chan struct{}), quit: make(chan struct{})}
	err := pod.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		c.fd = fd
		return nil
	})
	if err != nil {
		t.Fatalf("capture on %s: %v", pod.Name, err)
	}
	go c.loop()
	return c
}

func (c *capture) loop() {
	defer close(c.done)
	buf := make([]byte, 65536)
	for {
		select {
		case <-c.quit:
			return
		default:
		}
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			continue // timeout: check quit
		}
		if seg, ok := parseFrame(buf[:n]); ok {
			c.mu.Lock()
			c.segs = append(c.segs, seg)
			c.mu.Unlock()
		}
	}
}

// stop ends the capture and returns what it saw.
func (c *capture) stop() []segment {
	close(c.quit)
	<-c.done
	unix.Close(c.fd)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.segs
}

// parseFrame extracts a TCP segment from an Ethernet frame (IPv4 or IPv6
// without extension headers).
func parseFrame(b []byte) (segment, bool) {
	if len(b) < 14 {
		return segment{}, false
	}
	var src, dst netip.Addr
	var tcp []byte
	switch binary.BigEndian.Uint16(b[12:14]) {
	case 0x0800:
		ip := b[14:]
		if len(ip) < 20 || ip[9] != 6 {
			return segment{}, false
		}
		ihl := int(ip[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(ip[2:4]))
		if total > len(ip) || ihl > total {
			return segment{}, false
		}
		src, dst = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
		tcp = ip[ihl:total]
	case 0x86dd:
		ip := b[14:]
		if len(ip) < 40 || ip[6] != 6 {
			return segment{}, false
		}
		plen := int(binary.BigEndian.Uint16(ip[4:6]))
		if 40+plen > len(ip) {
			return segment{}, false
		}
		src, dst = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40]))
		tcp = ip[40 : 40+plen]
	default:
		return segment{}, false
	}
	if len(tcp) < 20 {
		return segment{}, false
	}
	off := int(tcp[12]>>4) * 4
	if off > len(tcp) {
		return segment{}, false
	}
	return segment{
		src:     netip.AddrPortFrom(src, binary.BigEndian.Uint16(tcp[0:2])),
		dst:     netip.AddrPortFrom(dst, binary.BigEndian.Uint16(tcp[2:4])),
		payload: append([]byte(nil), tcp[off:]...),
	}, true
}
