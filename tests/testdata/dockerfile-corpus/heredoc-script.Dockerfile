# syntax=docker/dockerfile:1.4
FROM ubuntu:24.04
RUN <<EOT bash
  set -ex
  apt-get update
  apt-get install -y vim
EOT
RUN <<EOF
#!/usr/bin/env python3
with open("/hello", "w") as f:
    print("Hello", file=f)
EOF
COPY <<-"EOT" /app/script.sh
	echo "hello ${FOO}"
EOT
RUN <<FILE1 cat > file1 && <<FILE2 cat > file2
I am
first
FILE1
I am
second
FILE2
ADD <<EOF /config.ini
[section]
key=value
EOF
