"""Placeholder: `edge-app demo` is being written."""

import argparse


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run_demo(args: argparse.Namespace) -> int:
    raise NotImplementedError("demo")
