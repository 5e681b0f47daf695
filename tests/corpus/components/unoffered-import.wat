;; A component that imports an interface the engine does not offer to steps.
(component
  (import "wasi:http/outgoing-handler@0.2.0" (instance (export "handle" (func))))
  (instance $kernel)
  (export "weft:step/kernel@0.3.0" (instance $kernel))
)
