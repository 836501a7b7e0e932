"""`jobs-connector sandbox`: run the local emulator of the five APIs on 127.0.0.1 until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from jobs_connector.base.errors import EXIT_BAD_INPUT
from jobs_connector.sandbox import codepipeline
from jobs_connector.sandbox.defaults import DEFAULT_PORT
from jobs_connector.sandbox.server import Sandbox
from jobs_connector.sandbox.state import StateFileError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Run a local, stateful emulator of the five APIs (IoT Jobs: the data plane and the "
                          "jobs control plane iot.*; Panorama, CodePipeline third-party jobs, SpaceONE jobs, "
                          "EmbedThis clouds) on 127.0.0.1. "
                          "It prints the environment a client needs; stop it with Ctrl-C.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free port)")
    parser.add_argument("--state", metavar="FILE",
                        help="keep the state in this JSON file across restarts (default: in memory only)")
    parser.add_argument("--print-env", action="store_true",
                        help="print only the shell lines to eval on stdout (everything else on stderr)")
    parser.add_argument("--spaceone-jobs", type=int, default=0, metavar="N",
                        help="add N generated SpaceONE jobs at start (ids job-bench-...; for benchmarks)")
    parser.add_argument("--mqtt", action="store_true",
                        help="also speak the IoT Jobs MQTT API: start mosquitto on 127.0.0.1 (it must be installed) "
                             "with the IoT Jobs service on it; AWS_IOT_MQTT_ENDPOINT is printed with the rest")
    parser.add_argument("--mqtt-port", type=int, default=0, metavar="PORT",
                        help="the broker's port with --mqtt (default: a free one)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS",
                        help="answer each API call MS milliseconds late, as a remote service would (default 0; "
                             "for benchmarks and tests of concurrency)")
    parser.add_argument("--quiet", "-q", action="store_true", help="do not log each request on stderr")


def _masked(key: str) -> str:
    return "*" * max(0, len(key) - 4) + key[-4:]


def _banner(sandbox: Sandbox, state: str | None) -> list[str]:
    creds = sandbox.credentials
    if creds.source == "environment":
        keys = (f"AWS keys: from this environment (AWS_ACCESS_KEY_ID {_masked(creds.access_key)} and its "
                f"AWS_SECRET_ACCESS_KEY{', AWS_SESSION_TOKEN' if creds.token else ''}); "
                f"clients must sign with the same keys")
    else:
        keys = (f"AWS key pair (the sandbox default, not a secret): {creds.access_key} / {creds.secret_key}")
    action = "/".join(codepipeline.ACTION_TYPE[k] for k in ("category", "owner", "provider", "version"))
    return [
        f"jobs-connector sandbox listening on {sandbox.url} (state: {state or 'in memory'})",
        "Emulates: iot-jobs-data, iot (the jobs control plane), panorama, codepipeline (SigV4-signed, any region), "
        "SpaceONE POST /identity/v2/job/*, EmbedThis POST /cloud/* (any non-empty bearer token)",
        keys,
        f"CodePipeline partner action {action}, clientToken {codepipeline.CLIENT_TOKEN}; "
        "IoT thing demo-thing with QUEUED jobs demo-job-1, demo-job-2",
    ] + ([f"IoT Jobs MQTT API on {sandbox.mqtt.url} (mosquitto; no client authentication, loopback only)"]
         if sandbox.mqtt else [])


def main(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        print(f"error: --port {args.port} is not a TCP port (0 to 65535; 0 picks a free one)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.spaceone_jobs < 0:
        print(f"error: --spaceone-jobs {args.spaceone_jobs} must be 0 or more", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not 0 <= args.latency <= 60000:
        print(f"error: --latency {args.latency:g} must be 0 to 60000 milliseconds", file=sys.stderr)
        return EXIT_BAD_INPUT
    log = None if args.quiet else (lambda line: print(f"sandbox: {line}", file=sys.stderr, flush=True))
    try:
        sandbox = Sandbox(args.port, state_file=args.state, log=log, latency=args.latency / 1000)
    except StateFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); choose another --port, "
              f"or --port 0 for a free one", file=sys.stderr)
        return EXIT_BAD_INPUT

    if args.mqtt:
        from jobs_connector.base.errors import ConfigurationError
        from jobs_connector.sandbox.mqtt_side import enable_mqtt

        try:
            enable_mqtt(sandbox, args.mqtt_port)
        except ConfigurationError as exc:
            sandbox.stop()
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if args.spaceone_jobs:
        sandbox.seed_spaceone_jobs(args.spaceone_jobs)
    banner = _banner(sandbox, args.state)
    env_lines = sandbox.shell_lines()
    if args.print_env:
        print("\n".join(env_lines), flush=True)
        print("\n".join(banner), file=sys.stderr, flush=True)
    else:
        print("\n".join(banner))
        print("Use it from another shell with:")
        print("\n".join(f"  {line}" for line in env_lines))
        print("Stop it with Ctrl-C.", flush=True)

    def stop(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
        signal.signal(signal.SIGTERM, stop)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        print("sandbox stopped", file=sys.stderr, flush=True)
    return 0
