(class_specifier name: (_) @name body: (field_declaration_list)) @definition.class
(struct_specifier name: (_) @name body: (field_declaration_list)) @definition.class
(union_specifier name: (_) @name body: (field_declaration_list)) @definition.class
(enum_specifier name: (_) @name body: (enumerator_list)) @definition.class
(function_definition declarator: (function_declarator declarator: (_) @name)) @definition.function
(function_definition declarator: (pointer_declarator declarator: (function_declarator declarator: (_) @name))) @definition.function
(function_definition declarator: (reference_declarator (function_declarator declarator: (_) @name))) @definition.function
; a macro before the declaration: `MACRO(2) void f()` and `MACRO const T *f()` misparse around the declarator
(function_definition declarator: (parenthesized_declarator (function_declarator declarator: (_) @name))) @definition.function
(function_definition declarator: (qualified_identifier name: (pointer_type_declarator (function_declarator declarator: (_) @name)))) @definition.function

(call_expression function: [
  (identifier) @call
  (field_expression field: (field_identifier) @call)
  (qualified_identifier name: (identifier) @call)
  (template_function name: (identifier) @call)])

(preproc_include path: (_) @import.module)
(using_declaration (_) @import.module)

(translation_unit (preproc_def name: (identifier) @define))
(translation_unit (preproc_function_def name: (identifier) @define))
(translation_unit (declaration declarator: (init_declarator declarator: (identifier) @define)))
