# Build and run sedgate. The binary carries its schemas, BUC catalogue, labels and IR seed.
FROM rust:1-bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq pkg-config libclang-dev clang libxml2-dev >/dev/null
WORKDIR /src
COPY . .
RUN cargo build --release --locked && cp target/release/sedgate /usr/local/bin/sedgate

FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq libxml2 ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/sedgate /usr/local/bin/sedgate
WORKDIR /opt/sedgate
COPY config ./config
ENTRYPOINT ["sedgate"]
CMD ["--config", "config/docker-at.toml", "serve"]
