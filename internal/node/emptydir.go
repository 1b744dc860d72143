package node

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// DefaultEmptyDirMaxSize bounds an emptyDir without a sizeLimit unless
// Config.EmptyDirMaxSize says otherwise: the kubelet has no such bound
// (it evicts on node disk pressure), but this node shares its disk with
// the control plane's etcd and registry.
const DefaultEmptyDirMaxSize = 10 << 30

// DefaultEmptyDirCheckInterval is how often the usage of a pod's
// emptyDirs is measured, as the kubelet's eviction manager does (every
// 10 s).
const DefaultEmptyDirCheckInterval = 10 * time.Second

// emptyDirLimit is one emptyDir of a pod and the size it may reach.
type emptyDirLimit struct {
	name  string
	dir   string
	limit resource.Quantity
}

// emptyDirLimits are the bounded emptyDirs of pod: its sizeLimit, else the
// node's EmptyDirMaxSize (none when that is zero or less).
func (a *Agent) emptyDirLimits(pod *corev1.Pod, files podFiles) []emptyDirLimit {
	var limits []emptyDirLimit
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir == nil {
			continue
		}
		l := emptyDirLimit{name: v.Name, dir: files.volume(v.Name)}
		switch {
		case v.EmptyDir.SizeLimit != nil && v.EmptyDir.SizeLimit.Sign() > 0:
			l.limit = *v.EmptyDir.SizeLimit
		case a.cfg.EmptyDirMaxSize > 0:
			l.limit = *resource.NewQuantity(a.cfg.EmptyDirMaxSize, resource.BinarySI)
		default:
			continue
		}
		limits = append(limits, l)
	}
	return limits
}

// watchEmptyDirs evicts run's pod once one of its emptyDirs uses more
// than its limit, as the kubelet's eviction manager does (localStorage
// eviction: the pod ends Failed, reason Evicted, with the kubelet's
// message naming the volume). It measures every EmptyDirCheckInterval,
// and never more often than ten times the last walk took, so that a
// volume of many files does not keep the node busy.
func (a *Agent) watchEmptyDirs(pod *corev1.Pod, files podFiles, run *podRun) {
	limits := a.emptyDirLimits(pod, files)
	if len(limits) == 0 {
		return
	}
	key := pod.Namespace + "/" + pod.Name
	go func() {
		interval := a.cfg.EmptyDirCheckInterval
		for {
			select {
			case <-run.done:
				return
			case <-run.stopCh:
				return
			case <-time.After(interval):
			}
			began := time.Now()
			for _, l := range limits {
				used, err := diskUsage(l.dir, l.limit.Value())
				if err != nil {
					a.log.Warn("measuring an emptyDir", "pod", key, "volume", l.name, "error", err)
					continue
				}
				if used > l.limit.Value() {
					a.log.Info("evicting a pod: emptyDir over its limit", "pod", key, "volume", l.name, "used", used, "limit", l.limit.String())
					run.stop("Evicted", fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q. ", l.name, l.limit.String()))
					return
				}
			}
			interval = max(a.cfg.EmptyDirCheckInterval, 10*time.Since(began))
		}
	}()
}

// diskUsage is the disk space the files under dir take (their blocks, as
// du counts them, so a sparse file counts what it holds); it stops
// counting once past stop. Files that go while it walks are skipped.
func diskUsage(dir string, stop int64) (int64, error) {
	var used int64
	errStop := errors.New("past the limit")
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			used += st.Blocks * 512
		} else {
			used += info.Size()
		}
		if used > stop {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return used, err
}
