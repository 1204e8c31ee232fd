(class_declaration name: (_) @name) @definition.class
(object_declaration name: (_) @name) @definition.class
(function_declaration name: (_) @name (function_body)) @definition.function

(call_expression . (identifier) @call)
(call_expression . (navigation_expression (identifier) @call .))

(import (qualified_identifier) @import.module)

(source_file (property_declaration (variable_declaration (identifier) @define)))
