"""The seed app: a tiny Flask service that says where it runs."""

import os
import socket

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return f"Hello from krat! I am {socket.gethostname()} (pid {os.getpid()})\n"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
