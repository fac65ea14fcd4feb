"""Placeholder: `edge-app broker` is being written."""

import argparse


def add_broker_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run_broker(args: argparse.Namespace) -> int:
    raise NotImplementedError("broker")
