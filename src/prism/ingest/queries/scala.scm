(class_definition name: (_) @name) @definition.class
(object_definition name: (_) @name) @definition.class
(trait_definition name: (_) @name) @definition.class
(enum_definition name: (_) @name) @definition.class
(function_definition name: (_) @name) @definition.function

(call_expression function: [(identifier) @call (field_expression field: (identifier) @call)])
(instance_expression (type_identifier) @call)

(import_declaration) @import.module

(compilation_unit (val_definition pattern: (identifier) @define))
(compilation_unit (var_definition pattern: (identifier) @define))
