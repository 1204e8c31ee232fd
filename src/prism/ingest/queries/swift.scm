(class_declaration name: (_) @name) @definition.class
(protocol_declaration name: (_) @name) @definition.class
(function_declaration name: (simple_identifier) @name body: (function_body)) @definition.function
(init_declaration body: (function_body)) @definition.function

(call_expression . (simple_identifier) @call)
(call_expression . (navigation_expression suffix: (navigation_suffix suffix: (simple_identifier) @call)))

(import_declaration (identifier) @import.module)

(source_file (property_declaration name: (pattern bound_identifier: (simple_identifier) @define)))
