"""Not a test and never imported: a file ``test_typing.py`` hands to mypy, to prove that the
TensorRT layer is typed by the stubs. Each line ending in a probe mark and an error code must be
reported by mypy with that code, and nothing else may be: the correct calls around them pass."""

from __future__ import annotations

from edgefer.engines.trt_module import import_tensorrt, trt_logger


def build(onnx_path: str) -> bytes:
    trt = import_tensorrt()
    builder = trt.Builder(trt_logger(trt))
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, trt_logger(trt))
    parser.parse_from_file(onnx_path)
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.FP16)
    plan = builder.build_serialised_network(network, config)  # probe: attr-defined
    builder.build_serialized_network(network, "config")  # probe: arg-type
    config.add_optimization_profile(builder.create_optimization_profile())
    trt.Runtim(trt_logger(trt))  # probe: attr-defined
    return bytes(plan)


def run(plan: bytes, address: int, stream: int) -> bool:
    trt = import_tensorrt()
    engine = trt.Runtime(trt_logger(trt)).deserialize_cuda_engine(plan)
    context = engine.create_execution_context()
    context.set_input_shape("face", (1, 64, 64, 1))
    context.set_tensor_address("face", str(address))  # probe: arg-type
    return context.execute_async_v3(stream)
