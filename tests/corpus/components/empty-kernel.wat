;; A component that exports weft:step/kernel@0.2.0 with nothing in it (no describe, no invoke).
(component
  (instance $kernel)
  (export "weft:step/kernel@0.2.0" (instance $kernel))
)
