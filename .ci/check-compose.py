#!/usr/bin/env python3
"""Checks docker-compose.yml without a Docker daemon: it parses (anchors and merge keys
resolved), and the deployment it describes holds together — PostgreSQL, a receiver, and two
`biotz serve` nodes that share the database and the master key, trust the receiver's
certificate, may reach its address, and each have a health check.

With `docker compose` on the machine, `.ci/run` also runs `docker compose config`."""

import ipaddress
import sys

import yaml

COMPOSE = "docker-compose.yml"


def fail(message):
    print(f"{COMPOSE}: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    with open(COMPOSE, encoding="utf-8") as file:
        compose = yaml.safe_load(file)
    services = compose.get("services") or fail("no services")
    for name in ("postgres", "receiver", "biotz-1", "biotz-2"):
        if name not in services:
            fail(f"service {name} is missing")
    for name, service in services.items():
        if "healthcheck" not in service:
            fail(f"service {name} has no healthcheck")

    receiver = services["receiver"]
    command = " ".join(receiver.get("command", []))
    if not command.startswith("receive"):
        fail("the receiver does not run `biotz receive`")
    receiver_ip = ipaddress.ip_address(
        receiver["networks"]["biotz"]["ipv4_address"]
    )
    subnet = ipaddress.ip_network(
        compose["networks"]["biotz"]["ipam"]["config"][0]["subnet"]
    )
    if receiver_ip not in subnet:
        fail(f"the receiver's address {receiver_ip} is outside {subnet}")

    nodes = [services["biotz-1"], services["biotz-2"]]
    for env_name in ("DATABASE_URL", "BIOTZ_MASTER_KEY", "BIOTZ_EXTRA_CA_CERTS"):
        values = {node["environment"].get(env_name) for node in nodes}
        if None in values or len(values) != 1:
            fail(f"the nodes must share {env_name}, set on both")
    ports = set()
    for index, node in enumerate(nodes, start=1):
        env = node["environment"]
        if node.get("command", ["serve"])[0] != "serve":
            fail(f"biotz-{index} does not run `biotz serve`")
        if not env["DATABASE_URL"].startswith("postgres://"):
            fail(f"biotz-{index} is not on PostgreSQL")
        allowed = [
            ipaddress.ip_network(cidr.strip())
            for cidr in env.get("BIOTZ_ALLOW_PRIVATE_TARGETS", "").split(",")
            if cidr.strip()
        ]
        if not any(receiver_ip in network for network in allowed):
            fail(f"biotz-{index} may not reach the receiver at {receiver_ip}")
        mounts = [volume.split(":")[0] for volume in node.get("volumes", [])]
        if "receiver-certs" not in mounts:
            fail(f"biotz-{index} does not mount the receiver's certificate")
        for condition in ("postgres", "receiver"):
            if condition not in node.get("depends_on", {}):
                fail(f"biotz-{index} does not wait for {condition}")
        ports.update(node.get("ports", []))
    if len(ports) != 2:
        fail("the two nodes must publish different ports")
    print(f"{COMPOSE}: {len(services)} services, two serve nodes on PostgreSQL, checked")


if __name__ == "__main__":
    main()
