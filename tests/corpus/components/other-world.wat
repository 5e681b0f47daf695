;; A component of another world: it exports a function `run` and nothing of weft:step.
(component
  (core module $m (func (export "run")))
  (core instance $i (instantiate $m))
  (func $run (canon lift (core func $i "run")))
  (export "run" (func $run))
)
