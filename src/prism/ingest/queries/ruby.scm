(class name: (_) @name) @definition.class
(module name: (_) @name) @definition.class
(method name: (_) @name) @definition.function
(singleton_method name: (_) @name) @definition.function

(call method: (identifier) @call)

(call method: (identifier) @_req (#match? @_req "^(require|require_relative|load)$") arguments: (argument_list (string (string_content) @import.module)))

(program (assignment left: [(identifier) (constant)] @define))
