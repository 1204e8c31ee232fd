(class_declaration name: (_) @name) @definition.class
(abstract_class_declaration name: (_) @name) @definition.class
(interface_declaration name: (_) @name) @definition.class
(enum_declaration name: (_) @name) @definition.class
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(method_definition name: (_) @name) @definition.function
(lexical_declaration (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @definition.function
(variable_declaration (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @definition.function

(call_expression function: [(identifier) @call (member_expression property: (property_identifier) @call)])
(new_expression constructor: [(identifier) @call (member_expression property: (property_identifier) @call)])

(import_statement source: (string (string_fragment) @import.module))
(import_specifier name: (identifier) @import.name)
(import_clause (identifier) @import.name)
(call_expression function: (identifier) @_req (#eq? @_req "require") arguments: (arguments (string (string_fragment) @import.module)))

(program (lexical_declaration (variable_declarator name: (identifier) @define)))
(program (variable_declaration (variable_declarator name: (identifier) @define)))
(program (export_statement (lexical_declaration (variable_declarator name: (identifier) @define))))
(program (type_alias_declaration name: (type_identifier) @define))
(program (export_statement (type_alias_declaration name: (type_identifier) @define)))
