FROM busybox
CMD []
ENTRYPOINT [ ]
RUN [ "echo", "unicode: \u00e9\u4e2d", "tab\there" ]
RUN ["sh", "-c", "echo \"quoted\" 'single'"]
CMD [ "missing-comma" "x" ]
RUN ["trailing", "comma",]
COPY ["only-one"]
VOLUME ["/a"] 
VOLUME [ ]
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc --mount="type=cache,target=/var/cache/apt,sharing=locked" apt-get update
RUN --network=host --security=insecure echo privileged
COPY --exclude=*.md --parents ./docs/ /docs/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tar.gz /
ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.10.1 /buildkit
HEALTHCHECK --start-interval=1s --start-period=5s CMD ["curl", "-f", "http://localhost/"]
LABEL a="with \"escaped\" quotes" b='single $x' c=plain\ spaced
ENV PATH=/opt/bin:$PATH \
    EMPTY= \
    QUOTED_EMPTY=""
ARG a b=c d="e f" g=
EXPOSE 80/tcp 80/udp 8000-8010
USER 1000:1000
STOPSIGNAL 9
WORKDIR $HOME/app
SHELL ["cmd", "/S", "/C"]
