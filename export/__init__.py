"""The workstation side: build, export, optimise, quantize, validate and bundle a classifier.

Needs the `export` extra (torch, transformers, optimum-onnx). The device runtime never
imports this package.
"""
