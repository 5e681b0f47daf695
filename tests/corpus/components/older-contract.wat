;; A component as built against weft:step@0.1.0: it imports the old `context` interface.
(component
  (import "weft:step/context@0.1.0" (instance))
)
