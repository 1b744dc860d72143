package cni

import (
	"net"
	"strings"
	"testing"
)

func TestCheckOverlap(t *testing.T) {
	_, loopback, _ := net.ParseCIDR("127.0.0.0/16")
	if err := checkOverlap(loopback, "slipway0"); err == nil || !strings.Contains(err.Error(), "--pod-subnet") {
		t.Errorf("a subnet over lo's 127.0.0.1: err = %v", err)
	}
	// TEST-NET-2 is on no interface of a test machine.
	_, free, _ := net.ParseCIDR("198.51.100.0/24")
	if err := checkOverlap(free, "slipway0"); err != nil {
		t.Errorf("a free subnet: %v", err)
	}
}
