(struct_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.class
(union_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.class
(enum_specifier name: (type_identifier) @name body: (enumerator_list)) @definition.class
(type_definition type: [(struct_specifier body: (_)) (union_specifier body: (_)) (enum_specifier body: (_))] declarator: (type_identifier) @name) @definition.class
(function_definition declarator: (function_declarator declarator: (_) @name)) @definition.function
(function_definition declarator: (pointer_declarator declarator: (function_declarator declarator: (_) @name))) @definition.function
(function_definition declarator: (pointer_declarator declarator: (pointer_declarator declarator: (function_declarator declarator: (_) @name)))) @definition.function
; a macro call before the declaration (`MACRO(2) void f()`) misparses as a parenthesized declarator
(function_definition declarator: (parenthesized_declarator (function_declarator declarator: (_) @name))) @definition.function

(call_expression function: [(identifier) @call (field_expression field: (field_identifier) @call)])

(preproc_include path: (_) @import.module)

(translation_unit (preproc_def name: (identifier) @define))
(translation_unit (preproc_function_def name: (identifier) @define))
(translation_unit (declaration declarator: (init_declarator declarator: (identifier) @define)))
(translation_unit (declaration declarator: (identifier) @define))
