package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	nethttp "net/http"
	"time"

	"go.uber.org/zap"
)

// ServerConfig holds the listener's limits.
type ServerConfig struct {
	Addr              string
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
}

// DefaultServerConfig returns safe limits for a public listener.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		Addr:              ":8080",
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      40 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
}

// Server runs a handler on a listener.
type Server struct {
	srv    *nethttp.Server
	logger *zap.Logger
	ln     net.Listener
	done   chan struct{}
}

// NewServer returns a Server that has not started yet.
func NewServer(cfg ServerConfig, h nethttp.Handler, logger *zap.Logger) *Server {
	return &Server{
		srv: &nethttp.Server{
			Addr:              cfg.Addr,
			Handler:           closeUntrustedFraming(h),
			ConnContext:       withFramingConn,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ReadTimeout:       cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			// Above HeaderLimit so limitHeaders can answer with the envelope.
			MaxHeaderBytes: 4 * HeaderLimit,
			// OPTIONS * reaches the handler, which answers it like any
			// other request, instead of net/http's bare 200.
			DisableGeneralOptionsHandler: true,
			ErrorLog:                     zap.NewStdLog(logger.Named("net/http")),
		},
		logger: logger,
		done:   make(chan struct{}),
	}
}

// Start listens synchronously, so a busy port fails the start, then serves
// in the background.
func (s *Server) Start(context.Context) error {
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.srv.Addr, err)
	}
	s.ln = ln
	s.logger.Info("listening", zap.String("addr", ln.Addr().String()))
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(framingListener{ln}); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			s.logger.Error("server stopped", zap.Error(err))
		}
	}()
	return nil
}

// Addr returns the bound address once started.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Stop stops accepting, lets in-flight requests finish until ctx ends, then
// closes what is left.
func (s *Server) Stop(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	return err
}
