;; A component that exports weft:step/kernel@0.3.0 with nothing in it (no describe, no invoke).
(component
  (instance $kernel)
  (export "weft:step/kernel@0.3.0" (instance $kernel))
)
