FROM debian:bookworm-slim
LABEL maintainer="ops@example.com" \
      org.opencontainers.image.source="https://example.com/repo" \
      description="A \"quoted\" description"
ARG DEBIAN_FRONTEND=noninteractive
RUN set -eux; \
	apt-get update; \
	apt-get install -y --no-install-recommends \
		ca-certificates \
		curl \
		gnupg \
# keep git for pip installs from VCS
		git \
	; \
	rm -rf /var/lib/apt/lists/*
ENV LANG C.UTF-8
ENV GOSU_VERSION 1.17
RUN set -eux; \
	dpkgArch="$(dpkg --print-architecture | awk -F- '{ print $NF }')"; \
	curl -fsSLo /usr/local/bin/gosu "https://example.com/gosu-$dpkgArch"; \
	chmod +x /usr/local/bin/gosu
VOLUME /var/lib/data
COPY docker-entrypoint.sh /usr/local/bin/
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
