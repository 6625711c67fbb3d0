# A static jobstatus binary in an empty image, running as a non-root user.
# Build it with `make image` (the binary is built on the host, so no base
# image is pulled); see docker-compose.yml for a deployment sketch.
FROM scratch
COPY bin/jobstatus /jobstatus
COPY bin/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
USER 65532:65532
# Inside a container loopback is the container itself: the write API for
# workers and the admin listener listen on every interface of it, and the
# deployment decides what to publish (docker-compose.yml publishes them on
# the host's loopback only).
ENV JOBSTATUS_HTTP_ADDR=:8080 JOBSTATUS_INTERNAL_ADDR=:8081 JOBSTATUS_ADMIN_ADDR=:9464
EXPOSE 8080 8081 9464
# No shell or curl in a scratch image: the binary asks its own admin
# listener for /readyz (exit 0 ready, 1 not).
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 CMD ["/jobstatus", "healthcheck"]
ENTRYPOINT ["/jobstatus"]
CMD ["serve"]
