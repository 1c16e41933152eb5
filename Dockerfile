# Savant: multi-stage image. The build stage uses the same dependency script and test command as
# CI; the runtime stage holds only the binary and the shared libraries it needs, as a non-root user.
#
#   docker build -t savant .
#   docker run -p 8500:8500 -p 8501:8501 -v "$PWD/models/m:/models/m" -e MODEL_NAME=m savant

FROM debian:bookworm AS build
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN deploy/install-deps.sh
COPY . .
RUN deploy/build.sh release && ctest --preset release --label-exclude integration

FROM debian:bookworm-slim AS runtime
COPY deploy/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
    && useradd --system --uid 10001 --home /nonexistent savant
COPY --from=build /src/build/release/server/savant /usr/local/bin/savant
COPY deploy/docker-entrypoint.sh /usr/local/bin/savant-entrypoint
ENV MODEL_BASE_PATH=/models MODEL_NAME=model
EXPOSE 8500 8501
USER savant
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD curl -fsS "http://127.0.0.1:8501/v1/models/${MODEL_NAME}" >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/savant-entrypoint"]
