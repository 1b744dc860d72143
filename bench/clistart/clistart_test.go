// Package clistart_bench measures what every slipway command pays before it
// does anything: exec, the Go runtime's and ~800 packages' initialisation
// and the command tree, timed on `slipway version --client` (no server).
// It prints the median wall time and minor page faults per run, which is
// where internal/hugeheap's effect shows.
//
//	go test -run '^$' -bench CLIStart -benchtime 1x ./bench/clistart/
package clistart_bench

import (
	"fmt"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/bench/benchserver"
)

const runs = 31

func BenchmarkCLIStart(b *testing.B) {
	slipway := benchserver.BuildSlipway(b, benchserver.RepoRoot(b))
	var walls []time.Duration
	var faults []int64
	b.ResetTimer()
	for range b.N {
		walls, faults = walls[:0], faults[:0]
		for range runs {
			cmd := exec.Command(slipway, "version", "--client")
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("slipway version --client: %v\n%s", err, out)
			}
			walls = append(walls, time.Since(start))
			faults = append(faults, cmd.ProcessState.SysUsage().(*syscall.Rusage).Minflt)
		}
	}
	b.StopTimer()
	slices.Sort(faults)
	wall := benchserver.Median(walls)
	b.ReportMetric(wall.Seconds()*1000, "ms/run")
	b.ReportMetric(float64(faults[len(faults)/2]), "minflt/run")
	fmt.Printf("slipway version --client: median %s, %d minor page faults (%d runs)\n",
		wall.Round(100*time.Microsecond), faults[len(faults)/2], runs)
}
