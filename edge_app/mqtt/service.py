"""Placeholder: `edge-app serve` is being written."""

import argparse


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run_serve(args: argparse.Namespace) -> int:
    raise NotImplementedError("serve")
