#!/usr/bin/python3
"""Prints `KEY=VALUE` lines (NUL-separated) of one docker-compose service's resolved environment, followed by its
command as `COMMAND=<json list>`, with container host names mapped to this machine.

Usage: compose-env.py SERVICE REWRITE... < resolved.yml
A REWRITE is OLD=NEW, applied as a plain substring replacement to every value (e.g. `@mysql:3306=@127.0.0.1:3306`).
Needs Debian's python3-yaml (installed with docker-compose).
"""
import json
import sys

import yaml

service_name, rewrites = sys.argv[1], [argument.split("=", 1) for argument in sys.argv[2:]]
service = yaml.safe_load(sys.stdin)["services"][service_name]
environment = service.get("environment") or {}
if isinstance(environment, list):
    environment = dict(item.split("=", 1) for item in environment)
for key, value in sorted(environment.items()):
    value = "" if value is None else str(value)
    for old, new in rewrites:
        value = value.replace(old, new)
    sys.stdout.write(f"{key}={value}\0")
command = service.get("command") or []
sys.stdout.write("COMMAND=" + json.dumps(command if isinstance(command, list) else command.split()) + "\0")
