"""A small terraform configuration: null_resource "ingress" whose triggers stand for a security group rule."""

from __future__ import annotations

from pathlib import Path

PROVIDER = """terraform {
  required_providers {
    null = { source = "hashicorp/null", version = "2.1.2" }
  }
}
"""


def ingress_tf(cidr: str, port: str = "443", group: str = "sg-0123456789abcdef0") -> str:
    return (
        PROVIDER
        + 'resource "null_resource" "ingress" {\n'
        + f'  triggers = {{ group_id = "{group}", cidr = "{cidr}", port = "{port}" }}\n}}\n'
        + 'resource "null_resource" "unrelated" {\n  triggers = { owner = "platform" }\n}\n'
    )


def write(dirpath: Path, text: str) -> Path:
    dirpath.mkdir(parents=True, exist_ok=True)
    (dirpath / "main.tf").write_text(text, encoding="utf-8")
    return dirpath
