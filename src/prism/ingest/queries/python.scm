; Captures: @definition.class / @definition.function with @name (and optional @parent),
; @call (callee name), @import.module / @import.name, @define (module-level assigned name).
(class_definition name: (identifier) @name) @definition.class
(function_definition name: (identifier) @name) @definition.function

(call function: [(identifier) @call (attribute attribute: (identifier) @call)])

(import_statement name: (dotted_name) @import.module)
(import_statement name: (aliased_import name: (dotted_name) @import.module))
(import_from_statement module_name: (_) @import.module name: (dotted_name) @import.name)
(import_from_statement module_name: (_) @import.module name: (aliased_import name: (dotted_name) @import.name))
(import_from_statement module_name: (_) @import.module (wildcard_import))

(module (expression_statement (assignment left: (identifier) @define)))
(module (expression_statement (assignment left: (pattern_list (identifier) @define))))
