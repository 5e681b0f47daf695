;; A component built against a newer contract than the engine's: it exports weft:step/kernel@0.4.0.
(component
  (instance $kernel)
  (export "weft:step/kernel@0.4.0" (instance $kernel))
)
