package imageregistry

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/sirupsen/logrus"
)

var routeLogsOnce sync.Once

// routeDistributionLogs sends distribution's logrus records (it logs through
// logrus' standard logger) to slog, keeping warnings and errors but not the
// "response completed with error" line it writes for every 4xx answer:
// HEADs of unknown blobs are how every push starts, not failures.
func routeDistributionLogs(log *slog.Logger) {
	routeLogsOnce.Do(func() {
		logrus.SetOutput(io.Discard)
		logrus.SetLevel(logrus.WarnLevel)
		logrus.AddHook(slogHook{log: log})
	})
}

type slogHook struct{ log *slog.Logger }

func (slogHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h slogHook) Fire(entry *logrus.Entry) error {
	if status, ok := entry.Data["http.response.status"].(int); ok && status < 500 {
		return nil
	}
	level := slog.LevelWarn
	if entry.Level <= logrus.ErrorLevel {
		level = slog.LevelError
	}
	attrs := make([]any, 0, 2*4)
	for _, key := range []string{"err.code", "err.message", "err.detail", "http.request.method", "http.request.uri", "http.response.status", "error"} {
		if v, ok := entry.Data[key]; ok {
			attrs = append(attrs, key, v)
		}
	}
	h.log.Log(context.Background(), level, entry.Message, attrs...)
	return nil
}
