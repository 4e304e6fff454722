package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// openPTY opens a pseudo-terminal and returns its controller and its
// terminal side, or skips the test where there is none.
func openPTY(t *testing.T) (controller, tty *os.File) {
	t.Helper()
	controller, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	ioctl := func(req uintptr, arg *uint32) error {
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, controller.Fd(), req, uintptr(unsafe.Pointer(arg))); errno != 0 {
			return errno
		}
		return nil
	}
	var unlock, n uint32
	if err := ioctl(syscall.TIOCSPTLCK, &unlock); err != nil {
		_ = controller.Close()
		t.Skipf("no pseudo-terminal: unlock: %v", err)
	}
	if err := ioctl(syscall.TIOCGPTN, &n); err != nil {
		_ = controller.Close()
		t.Skipf("no pseudo-terminal: number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		_ = controller.Close()
		t.Skipf("no pseudo-terminal: %v", err)
	}
	return controller, tty
}

// TestTerminalBar: on a terminal, a Bar draws a bar (redrawn in place with
// carriage returns), reports become its description, and Println's lines
// appear in full.
func TestTerminalBar(t *testing.T) {
	controller, tty := openPTY(t)
	defer func() { _ = controller.Close() }()
	require.True(t, isTerminal(tty))
	read := make(chan string)
	go func() {
		b, _ := io.ReadAll(controller) // Ends with an error once the terminal side is closed.
		read <- string(b)
	}()

	bar := New(tty, 10, "demo")
	require.True(t, bar.Terminal())
	for step := 1; step <= 10; step++ {
		if step == 5 {
			time.Sleep(throttle + 50*time.Millisecond) // Redraws are throttled.
			bar.Report("evaluated at 5")
			bar.Println("a line at 5")
		}
		bar.Add(1, nil)
	}
	bar.Finish()
	bar.Println("after the bar")
	require.NoError(t, tty.Close())
	out := <-read
	require.Contains(t, out, "\r", "a bar is redrawn in place")
	require.Contains(t, out, "evaluated at 5")
	require.Contains(t, out, "a line at 5")
	require.True(t, strings.Contains(out, "after the bar"), out)
}
