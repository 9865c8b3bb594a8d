"""A small builder of ONNX graphs: the preprocessor and each learner add their own nodes to one graph
(``trainwright export``), so each knows only its own part. Needs the ``onnx`` package (the export extra).

Example:
    >>> g = Graph()
    >>> x = g.input("x", "double", [None, 2])
    >>> g.output(g.op("Add", x, g.const(np.array([1.0, 2.0]))), "y", "double", [None, 2])
    >>> model = g.model()
    >>> [n.op_type for n in model.graph.node]
    ['Add', 'Identity']
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Graph", "OPSET"]

OPSET = 17
_TYPES = {"double": 11, "float": 1, "string": 8, "int64": 7, "bool": 9}  # onnx.TensorProto element types


class Graph:
    """Nodes, constants, inputs and outputs of one graph; every name it makes is unique."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self.opsets: dict[str, int] = {"": OPSET}
        self._count = 0

    def fresh(self, hint: str = "t") -> str:
        """A new tensor name."""
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value, hint: str = "c") -> str:
        """A constant tensor (strings become a string tensor)."""
        from onnx import numpy_helper

        array = np.asarray(value)
        if array.dtype.kind in "US":
            array = array.astype(object)
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, *inputs: str, domain: str = "", outputs: int = 1, **attrs) -> str | list[str]:
        """Add a node; returns its output name (or names when ``outputs`` > 1)."""
        from onnx import helper

        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, domain=domain or None, **attrs))
        return names[0] if outputs == 1 else names

    def input(self, name: str, elem: str, shape: list) -> str:
        """A named graph input of element type ``elem`` ("double", "string", ...)."""
        from onnx import helper

        self.inputs.append(helper.make_tensor_value_info(name, _TYPES[elem], shape))
        return name

    def output(self, tensor: str, name: str, elem: str, shape: list) -> None:
        """Expose ``tensor`` as the graph output ``name``."""
        from onnx import helper

        self.nodes.append(helper.make_node("Identity", [tensor], [name]))
        self.outputs.append(helper.make_tensor_value_info(name, _TYPES[elem], shape))

    def absorb(self, model, inputs: dict[str, str], prefix: str) -> dict[str, str]:
        """Copy another model's graph in (a converter's output): its inputs wired to ``inputs`` (its input name ->
        our tensor), every other name prefixed; returns its output names -> our tensor names."""
        from onnx import helper

        rename = dict(inputs)

        def name(n: str) -> str:
            return rename.setdefault(n, f"{prefix}{n}") if n else n

        for init in model.graph.initializer:
            init.name = name(init.name)
            self.initializers.append(init)
        for node in model.graph.node:
            self.nodes.append(helper.make_node(node.op_type, [name(i) for i in node.input],
                                               [name(o) for o in node.output], name=self.fresh(f"{prefix}{node.name}"),
                                               domain=node.domain or None,
                                               **{a.name: helper.get_attribute_value(a) for a in node.attribute}))
        for opset in model.opset_import:
            if opset.domain:
                self.opsets[opset.domain] = max(self.opsets.get(opset.domain, 0), opset.version)
        return {o.name: name(o.name) for o in model.graph.output}

    def model(self, metadata: dict[str, str] | None = None):
        """The checked ONNX model."""
        import onnx
        from onnx import helper

        graph = helper.make_graph(self.nodes, "trainwright", self.inputs, self.outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in self.opsets.items()],
                                  producer_name="trainwright")
        model.ir_version = min(model.ir_version, 9)  # what onnxruntime releases of the last two years read
        onnx.helper.set_model_props(model, metadata or {})
        onnx.checker.check_model(model)
        return model
