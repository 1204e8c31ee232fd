(type_declaration (type_spec name: (type_identifier) @name type: [(struct_type) (interface_type)])) @definition.class
(function_declaration name: (identifier) @name) @definition.function
(method_declaration
  receiver: (parameter_list (parameter_declaration type: [
    (type_identifier) @parent
    (pointer_type (type_identifier) @parent)
    (generic_type type: (type_identifier) @parent)
    (pointer_type (generic_type type: (type_identifier) @parent))]))
  name: (field_identifier) @name) @definition.function

(call_expression function: [(identifier) @call (selector_expression field: (field_identifier) @call)])

(import_spec path: (_) @import.module)

(source_file (var_declaration (var_spec name: (identifier) @define)))
(source_file (const_declaration (const_spec name: (identifier) @define)))
(source_file (type_declaration (type_spec name: (type_identifier) @define)))
