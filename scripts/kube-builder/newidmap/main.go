// newidmap is newuidmap and newgidmap (by the name it is called with) for the rootless BuildKit
// image of scripts/kube-builder/buildkit-image.sh. Installed setuid root, it drops to the caller's
// effective uid keeping only CAP_SETUID (CAP_SETGID for gid_map), as upstream shadow does when
// built with libcap, and writes the map. Debian 12's newuidmap writes as euid 0 instead, and the
// kernel then wants CAP_SYS_ADMIN over the new namespace, which an unprivileged pod's bounding set
// lacks: "newuidmap: write to uid_map failed: Operation not permitted".
//
// Usage: newuidmap <pid> <inside> <outside> <count> [...]. Every outside range must be the
// caller's own id (count 1) or inside the caller's entry of /etc/subuid (/etc/subgid).
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const (
	capSetgid       = 6
	capSetuid       = 7
	capVersion3     = 0x20080522
	atFdcwd         = -100
	noChange        = ^uintptr(0)
	prSetKeepcaps   = 8
	idRangeFields   = 3
	firstRangeIndex = 2
)

type capHeader struct {
	version uint32
	pid     int32
}

type capData struct{ effective, permitted, inheritable uint32 }

type idRange struct{ first, count uint64 }

func main() {
	runtime.LockOSThread() // the credentials below are this thread's
	gid := strings.Contains(filepath.Base(os.Args[0]), "gid")
	mapFile, subidFile, capBit, own := "uid_map", "/etc/subuid", uint32(capSetuid), uint64(os.Getuid())
	if gid {
		mapFile, subidFile, capBit, own = "gid_map", "/etc/subgid", capSetgid, uint64(os.Getgid())
	}
	args := os.Args
	if len(args) < firstRangeIndex+idRangeFields || (len(args)-firstRangeIndex)%idRangeFields != 0 {
		fail("usage: %s <pid> <inside> <outside> <count> [...]", filepath.Base(args[0]))
	}
	if _, err := strconv.Atoi(args[1]); err != nil {
		fail("%q is not a process id", args[1])
	}
	allowed := subordinateRanges(subidFile)
	var lines []string
	for i := firstRangeIndex; i < len(args); i += idRangeFields {
		outside, count := number(args[i+1]), number(args[i+2])
		number(args[i])
		if !(outside == own && count == 1) && !within(allowed, outside, count) {
			fail("range %d-%d is neither your own id nor in your entry of %s", outside, outside+count-1, subidFile)
		}
		lines = append(lines, strings.Join(args[i:i+idRangeFields], " "))
	}

	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetKeepcaps, 1, 0, 0, 0, 0); e != 0 {
		fail("prctl(PR_SET_KEEPCAPS): %v", e)
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, noChange, uintptr(os.Getuid()), noChange); e != 0 {
		fail("setresuid: %v", e)
	}
	header := capHeader{version: capVersion3}
	data := [2]capData{{effective: 1 << capBit, permitted: 1 << capBit}}
	if _, _, e := syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&header)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		fail("capset: %v", e)
	}
	path, err := syscall.BytePtrFromString("/proc/" + args[1] + "/" + mapFile)
	if err != nil {
		fail("%v", err)
	}
	dirfd := atFdcwd
	fd, _, e := syscall.RawSyscall6(syscall.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)), syscall.O_WRONLY|syscall.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		fail("open /proc/%s/%s: %v", args[1], mapFile, e)
	}
	text := []byte(strings.Join(lines, "\n") + "\n")
	if _, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&text[0])), uintptr(len(text))); e != 0 {
		fail("write to %s failed: %v", mapFile, e)
	}
}

// subordinateRanges reads the caller's entries (by name or by uid) of /etc/subuid or /etc/subgid.
func subordinateRanges(file string) []idRange {
	me := strconv.Itoa(os.Getuid())
	names := map[string]bool{me: true}
	if u, err := user.LookupId(me); err == nil {
		names[u.Username] = true
	}
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var ranges []idRange
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Split(strings.TrimSpace(scanner.Text()), ":")
		if len(fields) != 3 || !names[fields[0]] {
			continue
		}
		first, err1 := strconv.ParseUint(fields[1], 10, 32)
		count, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 == nil && err2 == nil {
			ranges = append(ranges, idRange{first, count})
		}
	}
	return ranges
}

func within(ranges []idRange, first, count uint64) bool {
	for _, r := range ranges {
		if first >= r.first && first+count <= r.first+r.count {
			return true
		}
	}
	return false
}

func number(text string) uint64 {
	n, err := strconv.ParseUint(text, 10, 32)
	if err != nil {
		fail("%q is not an id or a count", text)
	}
	return n
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "newidmap: "+format+"\n", args...)
	os.Exit(1)
}
